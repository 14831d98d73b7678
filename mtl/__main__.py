from mtl.command import main

main()
