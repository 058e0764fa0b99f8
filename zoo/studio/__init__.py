"""genzoo studio: a web page over every finished run (``python -m zoo.studio``).

``catalogue`` finds and loads the runs, ``pictures`` turns canvases and uploads into model inputs
and tensors into pictures, ``actions`` is what each button does (plain functions, tested without a
browser), ``page`` lays them out in Gradio tabs, and ``__main__`` is the command.
"""
