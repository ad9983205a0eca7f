from scormhub.cli import main

main()
