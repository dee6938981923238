"""Questions answered with the layers below: the ``explore`` CLI, sweeps, paper reproductions."""
