import sys

try:
    from edgesim.cli import main
except KeyboardInterrupt:  # Ctrl-C while the CLI module itself imports: one line, as everywhere else
    sys.stderr.write("error: interrupted\n")
    sys.exit(130)

sys.exit(main())
