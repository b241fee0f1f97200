; Inno Setup 6 script for Hearth's Windows installer (needs Inno Setup 6.3 or newer, for the
; x64compatible architecture identifier). build.ps1 in this folder compiles it:
;   ISCC.exe /DAppVersion=0.1.0 /DBundleDir=C:\path\to\dist\hearth hearth.iss
; Both defines are optional; relative paths are relative to this folder.
; Output: hearth-<version>-windows-x86_64-setup.exe in ..\..\dist (ISCC's /O overrides it).
;
; NOT TESTED: nothing in packaging\windows has been compiled or run on Windows (the project's
; machines are Linux). README.md in this folder lists what to check on the first real build.

#if VER < EncodeVer(6, 3, 0)
  #error Inno Setup 6.3 or newer is needed (x64compatible, {autopf} in 64-bit per-user mode)
#endif

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
; The numeric form for the setup's Windows version resource (up to four numbers); pass
; /DVersionNumbers=... when AppVersion has a suffix (0.2.0rc1: /DVersionNumbers=0.2.0).
#ifndef VersionNumbers
  #define VersionNumbers AppVersion
#endif
#ifndef BundleDir
  #define BundleDir "..\..\dist\hearth"
#endif
#define StarterModel "SmolLM2-135M-Instruct.Q4_1.gguf"

#if !FileExists(AddBackslash(BundleDir) + "hearth.exe")
  #error hearth.exe is not in BundleDir: build the bundle first (build.ps1, or PyInstaller), or pass /DBundleDir=...
#endif
#if !FileExists(AddBackslash(BundleDir) + "_internal\models\" + StarterModel)
  #error The built-in model is not in BundleDir\_internal\models: this bundle was not made by pyinstaller.spec
#endif

[Setup]
; AppId identifies Hearth to Windows' uninstall list across versions: never change it.
; (The doubled brace is Inno's escape for a literal "{".)
AppId={{8AC88CDB-167D-4922-8EB8-695258BC9B29}
AppName=Hearth
AppVersion={#AppVersion}
AppVerName=Hearth {#AppVersion}
AppPublisher=The Hearth contributors
AppCopyright=The Hearth contributors
VersionInfoVersion={#VersionNumbers}
VersionInfoProductName=Hearth
VersionInfoDescription=Hearth setup
; Per-user by default: no administrator rights, installed into %LOCALAPPDATA%\Programs\Hearth.
; The dialog lets an administrator install for all users into Program Files instead
; (also /ALLUSERS or /CURRENTUSER on the command line). {autopf} follows that choice.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\Hearth
DisableProgramGroupPage=yes
; The bundle is x64 only (llama.cpp built for x86-64 with AVX2). x64compatible also admits
; Arm64 Windows 11, which runs x64 programs under emulation.
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Qt 6 supports Windows 10 1809 (build 17763) and later.
MinVersion=10.0.17763
; No licence page: Hearth itself shows no agreement to accept. The licences of everything
; inside (llama.cpp, Qt, Python, the starter model, ...) are installed with the bundle, in
; {app}\_internal\resources\licenses, and shown in Hearth's About dialog. So: no LicenseFile.
SetupIconFile=..\..\resources\icons\hearth.ico
UninstallDisplayIcon={app}\_internal\resources\icons\hearth.ico
UninstallDisplayName=Hearth
OutputDir=..\..\dist
OutputBaseFilename=hearth-{#AppVersion}-windows-x86_64-setup
Compression=lzma2/max
SolidCompression=yes
LZMAUseSeparateProcess=yes
WizardStyle=modern
; Close a running Hearth (its window and its engine process, both hearth.exe) before files are
; replaced; Restart Manager finds them by the files they hold open.
CloseApplications=yes
CloseApplicationsFilter=*.exe,*.dll,*.pyd,*.gguf
RestartApplications=no

[Languages]
Name: "en"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the whole bundle: files an older version had and this one has not (a
; renamed DLL, a Python module) must not linger, since the bundle's loader would find them.
; Inno strips the read-only attribute (the built-in model's) before it deletes.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
; The whole one-folder bundle (hearth.exe and _internal\), except the built-in model...
Source: "{#BundleDir}\*"; DestDir: "{app}"; Excludes: "\_internal\models\{#StarterModel}"; Flags: ignoreversion recursesubdirs createallsubdirs
; ...which is installed read-only (Hearth never writes it; the attribute guards against others).
Source: "{#BundleDir}\_internal\models\{#StarterModel}"; DestDir: "{app}\_internal\models"; Attribs: readonly; Flags: ignoreversion overwritereadonly uninsremovereadonly

[Icons]
Name: "{autoprograms}\Hearth"; Filename: "{app}\hearth.exe"; Comment: "Chat offline with small language models"
Name: "{autodesktop}\Hearth"; Filename: "{app}\hearth.exe"; Comment: "Chat offline with small language models"; Tasks: desktopicon

[Run]
; postinstall entries run as the user who started Setup (not elevated), even after the
; all-users choice.
Filename: "{app}\hearth.exe"; Description: "{cm:LaunchProgram,Hearth}"; Flags: postinstall skipifsilent nowait

; Uninstalling removes only what Setup installed (the app folder and the shortcuts). The
; user's chats, models, settings and logs are kept: they live in %LOCALAPPDATA%\hearth (and
; the download cache in %LOCALAPPDATA%\hearth\Cache), never inside the app, and this script
; deliberately has no [UninstallDelete] entry for them. To remove them too, delete that folder.
