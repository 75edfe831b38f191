from manager.entrypoints.cli import main

main()
