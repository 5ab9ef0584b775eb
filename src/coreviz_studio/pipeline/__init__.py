"""Background processing: the queue, the workers and what one job does to a media.

decode/sandbox turn an upload into frames (untrusted input, isolated); steps/ run one capability
each over the stored frames; store writes the results; process is one job (decode, then the
steps); worker runs jobs; analyze runs every model over one frame (the /api/ai answers).
"""
