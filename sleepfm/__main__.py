"""``python -m sleepfm`` (what ``torchrun -m sleepfm`` runs)."""

from sleepfm.cli.app import run

if __name__ == "__main__":
    run()
