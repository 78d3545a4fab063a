print("kappa")
