from booking.entrypoints.cli import main

main()
