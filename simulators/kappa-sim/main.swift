print("kappa-sim: not built yet")
