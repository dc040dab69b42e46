from newsflow.ops.cli import main

main()
