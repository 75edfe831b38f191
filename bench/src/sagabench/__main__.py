from sagabench.cli import main

main()
