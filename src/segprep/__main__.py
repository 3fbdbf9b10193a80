from segprep.cli import main

raise SystemExit(main())
