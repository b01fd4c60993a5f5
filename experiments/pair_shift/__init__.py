"""How far apart the two views of a synthetic day/night pair are, per alignment setting."""
