from bench.dashboard import main

main()
