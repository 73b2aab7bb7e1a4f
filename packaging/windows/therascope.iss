; Inno Setup script: the per-machine installer around PyInstaller's dist\TheraScope folder
; (specified, not built here; see NOTES.md). iscc /DFlavour=cpu /DVersion=0.1.0 therascope.iss
#ifndef Flavour
  #define Flavour "cpu"
#endif
#ifndef Version
  #define Version "0.1.0"
#endif

[Setup]
AppId={{6B0C2E52-2D0B-4F61-9C6A-1E7C3B7A9D20}
AppName=TheraScope
AppVersion={#Version}
AppPublisher=TheraScope
DefaultDirName={autopf}\TheraScope
DefaultGroupName=TheraScope
OutputBaseFilename=TheraScope-{#Version}-windows-x64-{#Flavour}-setup
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0.17763
Compression=lzma2/max
SolidCompression=yes
LicenseFile=..\LICENSE-GPL-3.0.txt
WizardStyle=modern
; signed with signtool through Inno's SignTool= directive (see NOTES.md, "Code signing")
SignTool=therascope_sign
SignedUninstaller=yes

[Files]
Source: "..\..\dist\TheraScope\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\TheraScope"; Filename: "{app}\therascope.exe"
Name: "{group}\TheraScope self-test"; Filename: "{app}\therascope-cli.exe"; Parameters: "selftest"
Name: "{autodesktop}\TheraScope"; Filename: "{app}\therascope.exe"; Tasks: desktopicon

[Tasks]
Name: desktopicon; Description: "Create a desktop icon"; Flags: unchecked

[Run]
Filename: "{app}\therascope-cli.exe"; Parameters: "selftest"; Description: "Run the self-test now"; Flags: postinstall skipifsilent unchecked
