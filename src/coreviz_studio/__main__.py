from coreviz_studio.cli import main

main()
