"""How good are the night pseudo-labels of each variant of the method, with a fixed teacher?"""
