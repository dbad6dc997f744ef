from groves.cli import main

main()
