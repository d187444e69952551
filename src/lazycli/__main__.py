from lazycli.cli import main

main()
