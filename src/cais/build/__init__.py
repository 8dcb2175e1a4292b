"""Building images from a Dockerfile.

Words: a *stage* is ``FROM …`` and the instructions up to the next FROM; a *step* is
one instruction of a stage; the *build context* is the directory COPY and ADD read
from. :mod:`~cais.build.parse` turns text into instructions (pure); the
:class:`~cais.build.builder.Builder` runs them, one cached step at a time.
"""
