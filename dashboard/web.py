"""The cockpit's web server: `python -m streamlit run dashboard/web.py [options]` from the repo root.

Streamlit's own server (st.App) running dashboard/app.py, with dashboard/web_assets.py's
middleware in front for faster page loads in the browser (plotly.js started early on chart
pages, gzip for Streamlit's static files), and dashboard/warmup.py's imports and database
opening done while the server starts rather than on the first visitor's page; what start-up
built is then frozen out of the garbage collector's full passes (warmup.freeze), which Streamlit
runs after every page's script. Before both, dashboard/nodelay.py sets TCP_NODELAY on the
listening socket Streamlit bound, so no small answer (a static file, a websocket message) waits
~40 ms for the browser's delayed acknowledgement. `streamlit run`
finds `app` below and serves it with the same options as `streamlit run dashboard/app.py`;
app.py alone still runs without them. In front of everything, dashboard/prefetch.py's middleware
queues a read-ahead of a page's first queries when the page's HTML is asked for, so they run while
the browser loads Streamlit's JavaScript (off with COCKPIT_PREFETCH=0). After start-up,
dashboard/keepwarm.py keeps every page's street-wide opening reads in the result cache: the
health check answers once its first pass is done (30 s at most), and it renews them on every
new file version and before they expire (off with COCKPIT_KEEP_WARM=0).
"""
import contextlib
import gc

import streamlit as st
from starlette.middleware import Middleware

from dashboard import keepwarm, nodelay, warmup
from dashboard.prefetch import Prefetch
from dashboard.web_assets import FastAssets


@contextlib.asynccontextmanager
async def lifespan(_app):
    nodelay.on_listeners()
    warmup.start()
    warm = keepwarm.start()             # before freeze: what its first pass built is frozen too
    warmup.freeze()
    try:
        yield
    finally:
        if warm is not None:
            warm.stop()
        gc.unfreeze()


app = st.App("app.py", middleware=[Middleware(Prefetch), Middleware(FastAssets)], lifespan=lifespan)
