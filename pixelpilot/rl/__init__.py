"""Tool-integrated RL: rollouts, rewards, losses, SFT and RL trainers."""
