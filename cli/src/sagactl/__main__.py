from sagactl.main import main

main()
