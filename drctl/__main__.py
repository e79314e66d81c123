from drctl.cli import app

app(prog_name="drctl")
