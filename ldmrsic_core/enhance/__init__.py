"""LDM-RSIC decode-time enhancement: prior encoders, prior diffusion and the MEN network."""
