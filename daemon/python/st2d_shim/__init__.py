"""st2d's shim: runs pack Python code (sensors) under st2d. Owns nothing else."""
