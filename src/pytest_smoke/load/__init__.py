"""The load burst of the checks file's ``[load]`` table: plain modules, no pytest inside.

- :mod:`.spec`: the table as values (targets, mode, thresholds), and what its schema cannot say;
- :mod:`.schedule`: which target each request goes to (sequential, interleaved, random, by
  weight), and when each request is due at a constant arrival rate;
- :mod:`.runner`: the burst itself, open loop (constant arrival rate) or closed loop (fixed
  concurrency), on asyncio;
- :mod:`.client`: the httpx client the burst sends with, built like ``http_client``;
- :mod:`.stats`: latencies into HdrHistogram, the summary the reports show;
- :mod:`.thresholds`: k6-style limits on the summary, and the one line saying what broke.

Importing this package imports none of httpx or hdrhistogram (the ``load`` extra): the modules
that need them import them.
"""
