; Postern's Windows installer (NSIS 3). Installs the CLI (on the machine's PATH), the desktop app
; when it was built, and the helper as the `postern-helper` service (automatic start, LocalSystem);
; (with SetShellVarContext all, $APPDATA is %ProgramData%) the uninstaller stops and deletes the service, takes its folder off PATH and removes what it
; installed, keeping the organization's policy in %ProgramData%\Postern.
;   makensis -DVERSION=0.1.0 -DBIN_DIR=<folder with the .exe files> -DOUTFILE=<installer.exe>
;            [-DWITH_APP] installers/windows/postern.nsi
; Silent: `postern-setup.exe /S`; removal: `"%ProgramFiles%\Postern\uninstall.exe" /S`.

Unicode true
; A 64-bit installer: it runs where wine has no 32-bit side, and writes the 64-bit registry.
Target amd64-unicode
!include "StrFunc.nsh"
!include "WinMessages.nsh"
${StrStr}
${UnStrRep}

!ifndef VERSION
  !error "VERSION is not defined (-DVERSION=...)"
!endif
!ifndef BIN_DIR
  !error "BIN_DIR is not defined (-DBIN_DIR=...)"
!endif
!ifndef OUTFILE
  !define OUTFILE "postern-setup.exe"
!endif

!define SERVICE "postern-helper"
!define ENVIRONMENT "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Postern"

Name "Postern"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\Postern"
RequestExecutionLevel admin
ShowInstDetails show
ShowUninstDetails show

Section "Postern"
  SetShellVarContext all
  ; A running helper holds its executable: stop it before the files are replaced.
  nsExec::ExecToLog 'sc stop ${SERVICE}'
  SetOutPath "$INSTDIR"
  File "${BIN_DIR}\postern.exe"
  File "${BIN_DIR}\postern-helper.exe"
!ifdef WITH_APP
  File "${BIN_DIR}\postern-app.exe"
  CreateShortcut "$SMPROGRAMS\Postern.lnk" "$INSTDIR\postern-app.exe"
!endif
  CreateDirectory "$APPDATA\Postern"

  ; The Windows form of the `postern` group: its members may drive the helper. An existing
  ; group (a reinstall, or one IT made) is kept as it is.
  nsExec::ExecToLog 'net localgroup postern /add /comment:"May connect the company VPN through Postern"'

  ; The helper service: replaced if a previous install left one.
  nsExec::ExecToLog 'sc delete ${SERVICE}'
  nsExec::ExecToLog 'sc create ${SERVICE} binPath= "\"$INSTDIR\postern-helper.exe\" --service" start= auto DisplayName= "Postern VPN helper"'
  Pop $0
  StrCmp $0 "0" +2
    Abort "The Postern helper service could not be created (sc create said $0)."
  nsExec::ExecToLog 'sc description ${SERVICE} "Runs the company VPN for Postern, from profiles it checks."'
  nsExec::ExecToLog 'sc start ${SERVICE}'

  ; The CLI on every user's PATH (once).
  ReadRegStr $1 HKLM "${ENVIRONMENT}" "Path"
  ${StrStr} $2 "$1;" "$INSTDIR;"
  StrCmp $2 "" 0 path_done
    WriteRegExpandStr HKLM "${ENVIRONMENT}" "Path" "$1;$INSTDIR"
    SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000
  path_done:

  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "Postern"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "Postern"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  SetShellVarContext all
  ; Stopping the helper ends the tunnel (OpenVPN ends with the helper's connection).
  nsExec::ExecToLog 'sc stop ${SERVICE}'
  Sleep 2000
  nsExec::ExecToLog 'sc delete ${SERVICE}'

  ReadRegStr $1 HKLM "${ENVIRONMENT}" "Path"
  ${UnStrRep} $2 "$1" ";$INSTDIR" ""
  WriteRegExpandStr HKLM "${ENVIRONMENT}" "Path" "$2"
  SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000

  Delete "$SMPROGRAMS\Postern.lnk"
  Delete "$INSTDIR\postern.exe"
  Delete "$INSTDIR\postern-helper.exe"
  Delete "$INSTDIR\postern-app.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  ; The helper's own files (its log, a tunnel's state); the organization's policy stays.
  RMDir /r "$APPDATA\Postern\helper"
  RMDir "$APPDATA\Postern"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
SectionEnd
