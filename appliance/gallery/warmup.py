"""Imported only by the renderer's fork server (renderjob.PRELOAD), never elsewhere: importing it renders
a small notebook, so that nbconvert's templates are compiled and the lexers, markdown parser and image
plugins a render uses are loaded in the server, and every render forked from it starts with them (they
cost 1.5 s a render otherwise). The one module whose import does work, by design: a fork server's
preloading is imports only."""

from appliance.gallery.convert import notebook_html
from appliance.gallery.preview import make_preview

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
SMALL = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"language_info": {"name": "python"}}, "cells": [
    {"id": "a", "cell_type": "markdown", "metadata": {}, "source": "# Title\n\n*Some* $x^2$ | a |\n|---|\n| b |"},
    {"id": "b", "cell_type": "code", "metadata": {"appliance": {"showcase": True}}, "execution_count": 1,
     "source": "import numpy as np\nprint(np.pi)", "outputs": [
         {"output_type": "stream", "name": "stdout", "text": "3.14\n"},
         {"output_type": "display_data", "metadata": {}, "data": {"image/png": PIXEL, "text/plain": "<Figure>",
                                                                 "text/html": "<b>x</b>"}}]}]}

notebook_html(SMALL)
make_preview(SMALL, 0)
