; Postern's Windows installer (NSIS 3). Installs the CLI (on the machine's PATH), the desktop app
; when it was built, and the helper as the `postern-helper` service (automatic start, LocalSystem);
; the uninstaller stops and deletes the service, takes its folder off PATH and removes what it
; installed, keeping the organization's policy in %ProgramData%\Postern (which is $APPDATA here,
; after SetShellVarContext all).
;   makensis -DVERSION=0.1.0 -DBIN_DIR=<folder with the .exe files> -DOUTFILE=<installer.exe>
;            [-DWITH_APP] installers/windows/postern.nsi
; Silent: `postern-setup.exe /S`; removal: `"%ProgramFiles%\Postern\uninstall.exe" /S`.

Unicode true
; A 64-bit installer: it runs where wine has no 32-bit side, and writes the 64-bit registry.
Target amd64-unicode
!include "StrFunc.nsh"
!include "WinMessages.nsh"
${StrStr}
${UnStrStr}
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
; Longer PATHs are left alone: this NSIS build's strings end at 1024 characters, and a PATH read
; cut short and written back would lose entries.
!define PATH_LIMIT 950
; Everyone may read and run, only SYSTEM and Administrators change: for the install folder and
; %ProgramData%\Postern (so no user can put anything in the helper's folder's place).
!define MACHINE_ACL '/inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F *S-1-5-32-545:(OI)(CI)RX'

; Waits (up to 30 s) until the service has stopped: a running helper holds its executable, and a
; service is only deleted once stopped. Where `sc query` says nothing (no such service, or a
; system without the query), there is nothing to wait for.
; Runs a command into the install log; its exit code is not needed (the step may rightly fail,
; e.g. stopping a service that is not there).
!macro RUN COMMAND
  nsExec::ExecToLog `${COMMAND}`
  Pop $9
!macroend

!macro FIND OUT TEXT PART
  !ifdef __UNINSTALL__
    ${UnStrStr} ${OUT} ${TEXT} ${PART}
  !else
    ${StrStr} ${OUT} ${TEXT} ${PART}
  !endif
!macroend
!macro WAIT_STOPPED UN
Function ${UN}WaitStopped
  StrCpy $R1 0
  again:
    nsExec::ExecToStack '"$SYSDIR\sc.exe" query ${SERVICE}'
    Pop $R2
    Pop $R3
    !insertmacro FIND $R4 $R3 "STATE"
    StrCmp $R4 "" done
    !insertmacro FIND $R4 $R3 "STOPPED"
    StrCmp $R4 "" 0 done
    IntOp $R1 $R1 + 1
    IntCmp $R1 60 done
    Sleep 500
    Goto again
  done:
FunctionEnd
!macroend
!insertmacro WAIT_STOPPED ""
!insertmacro WAIT_STOPPED "un."

Name "Postern"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\Postern"
RequestExecutionLevel admin
ShowInstDetails show
ShowUninstDetails show

Section "Postern"
  SetShellVarContext all
  ; A running helper holds its executable: stop it before the files are replaced.
  !insertmacro RUN '"$SYSDIR\sc.exe" stop ${SERVICE}'
  Call WaitStopped
  SetOutPath "$INSTDIR"
  !insertmacro RUN '"$SYSDIR\icacls.exe" "$INSTDIR" /setowner *S-1-5-32-544'
  !insertmacro RUN '"$SYSDIR\icacls.exe" "$INSTDIR" ${MACHINE_ACL}'
  File "${BIN_DIR}\postern.exe"
  File "${BIN_DIR}\postern-credentials.exe"
  File "${BIN_DIR}\postern-helper.exe"
!ifdef WITH_APP
  File "${BIN_DIR}\postern-app.exe"
  CreateShortcut "$SMPROGRAMS\Postern.lnk" "$INSTDIR\postern-app.exe"
!endif
  CreateDirectory "$APPDATA\Postern"
  !insertmacro RUN '"$SYSDIR\icacls.exe" "$APPDATA\Postern" /setowner *S-1-5-32-544'
  !insertmacro RUN '"$SYSDIR\icacls.exe" "$APPDATA\Postern" ${MACHINE_ACL}'

  ; The Windows form of the `postern` group: its members may drive the helper. An existing
  ; group (a reinstall, or one IT made) is kept as it is.
  !insertmacro RUN '"$SYSDIR\net.exe" localgroup postern /add /comment:"May connect the company VPN through Postern"'

  ; The helper service: replaced if a previous install left one.
  !insertmacro RUN '"$SYSDIR\sc.exe" delete ${SERVICE}'
  nsExec::ExecToLog '"$SYSDIR\sc.exe" create ${SERVICE} binPath= "\"$INSTDIR\postern-helper.exe\" --service" start= auto DisplayName= "Postern VPN helper"'
  Pop $0
  StrCmp $0 "0" +2
    Abort "The Postern helper service could not be created (sc create said $0)."
  !insertmacro RUN '"$SYSDIR\sc.exe" description ${SERVICE} "Runs the company VPN for Postern, from profiles it checks."'
  ; Restarted if it ever ends on its own, so its pipe is not left for another process to take.
  !insertmacro RUN '"$SYSDIR\sc.exe" failure ${SERVICE} reset= 86400 actions= restart/5000/restart/5000/restart/60000'
  !insertmacro RUN '"$SYSDIR\sc.exe" start ${SERVICE}'

  ; The CLI on every user's PATH (once), matched as a whole entry.
  ClearErrors
  ReadRegStr $1 HKLM "${ENVIRONMENT}" "Path"
  IfErrors path_left
  StrCmp $1 "" path_left
  StrLen $3 $1
  IntCmp $3 ${PATH_LIMIT} path_left 0 path_left
  ${StrStr} $2 ";$1;" ";$INSTDIR;"
  StrCmp $2 "" 0 path_done
    WriteRegExpandStr HKLM "${ENVIRONMENT}" "Path" "$1;$INSTDIR"
    SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000
    Goto path_done
  path_left:
    DetailPrint "The machine's PATH was left as it is (unreadable or too long to edit safely); add $INSTDIR to it to run postern from any prompt."
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
  !insertmacro RUN '"$SYSDIR\sc.exe" stop ${SERVICE}'
  Call un.WaitStopped
  !insertmacro RUN '"$SYSDIR\sc.exe" delete ${SERVICE}'

  ; The folder off PATH: whole entries only (`…\Postern Tools` is another folder).
  ClearErrors
  ReadRegStr $1 HKLM "${ENVIRONMENT}" "Path"
  IfErrors path_kept
  StrCmp $1 "" path_kept
  StrLen $3 $1
  IntCmp $3 ${PATH_LIMIT} path_kept 0 path_kept
  ${UnStrRep} $2 ";$1;" ";$INSTDIR;" ";"
  StrCpy $2 $2 "" 1
  StrCpy $2 $2 -1
  StrCmp $2 $1 path_kept
    WriteRegExpandStr HKLM "${ENVIRONMENT}" "Path" "$2"
    SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000
  path_kept:

  ; Start at login of the person removing Postern (other accounts' values name a program that is
  ; gone, which Windows skips at login).
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "Postern"

  Delete "$SMPROGRAMS\Postern.lnk"
  Delete "$INSTDIR\postern.exe"
  Delete "$INSTDIR\postern-credentials.exe"
  Delete "$INSTDIR\postern-helper.exe"
  Delete "$INSTDIR\postern-app.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  ; The helper's own files (its log, a tunnel's state); the organization's policy stays.
  RMDir /r "$APPDATA\Postern\helper"
  RMDir "$APPDATA\Postern"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
SectionEnd
