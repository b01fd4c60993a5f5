"""Is the day loss of night-trained models the decode head's BatchNorm statistics?"""
