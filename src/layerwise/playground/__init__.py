"""``layerwise playground``: backpropagation you can touch, in the browser.

A local web app (Starlette on uvicorn, the optional extra ``layerwise[playground]``) with three
pages, every value on them computed by the library:

1. the chapter-5 computational graphs of :mod:`layerwise.figures.graph`, inputs editable, forward
   values above each edge and gradients below (:mod:`~layerwise.playground.graphs`);
2. a digit to draw or pick, centred as MNIST is, its class probabilities, every layer's
   activations and the step-by-step backward trace down to the gradient with respect to the
   input image (:mod:`~layerwise.playground.digits`);
3. training a network on the bundled ``mnist-sample`` with live curves, one session per tab
   (:mod:`~layerwise.playground.training`).

The server (:mod:`~layerwise.playground.server`) binds 127.0.0.1 unless told otherwise,
limits and validates every request body (:mod:`~layerwise.playground.validation`) and never
reads or writes a path that a request names. The page is plain HTML, CSS and JavaScript
modules under ``static/``, shipped in the wheel: nothing is loaded from elsewhere.

This package's ``__init__`` imports nothing, so that ``layerwise --help`` works without the
extra installed; import :mod:`layerwise.playground.server` for :func:`create_app`.
"""
