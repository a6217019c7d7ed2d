from lanterne.cli import run

run()
