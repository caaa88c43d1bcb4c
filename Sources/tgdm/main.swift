// The `tgdm` command-line tool: a thin shell over the TGDMCLI library (commands are tested there).
import TGDMCLI

TGDMCommand.launch()
