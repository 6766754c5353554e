"""The whole pipeline headless: image -> rows -> labels -> classes -> outputs, one image or many."""
