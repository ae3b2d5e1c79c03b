"""Image handling, as the paper's MATLAB code does it: colour (``color.py``: BT.601
YCbCr), MATLAB's bicubic ``imresize`` (``resize.py``), reading and writing files
(``imageio.py``), PSNR and SSIM (``metrics.py``), and the evaluation protocol that
combines them into a test score to the hundredth of a dB (``protocol.py``)."""
