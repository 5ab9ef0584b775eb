"""Background processing: the queue, the workers and what one job does to a media.

decode/sandbox turn an upload into frames (untrusted input, isolated); analyze runs the models
over each frame; store writes the results; process is one job; worker runs jobs.
"""
