from portal.sandbox.cli import main

main()
