from hub.sandbox.cli import main

main()
