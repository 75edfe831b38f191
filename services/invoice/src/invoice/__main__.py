from invoice.entrypoints.cli import main

main()
