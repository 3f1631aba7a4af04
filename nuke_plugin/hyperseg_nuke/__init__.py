"""hyperseg_nuke: the Nuke side of hyperseg-vfx. Runs inside Nuke's own Python (3.9+), so it
imports only the standard library; the model lives in the bridge process (`hyperseg-vfx serve`),
reached through `hyperseg_nuke.bridge_client`."""
