from sagabench.faults.cli import main

main()
