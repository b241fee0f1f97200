<#
.SYNOPSIS
Build Hearth's Windows installer and smoke-test the bundle: what scripts/package does on Linux.

.DESCRIPTION
1. the portable llama-cpp-python wheel (llama.cpp for x86-64 with AVX2, cached per machine),
2. a build venv (build\package-venv) with Hearth and PyInstaller on that wheel,
3. the one-folder bundle dist\hearth\ (pyinstaller.spec),
4. the installer dist\hearth-<version>-windows-x86_64-setup.exe (Inno Setup, hearth.iss),
5. the smoke test: dist\hearth\hearth.exe --self-test in a temporary profile.
Stops at the first error. NOT TESTED: never run on Windows (see README.md in this folder).

.EXAMPLE
powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1
.EXAMPLE
packaging\windows\build.ps1 -Python C:\Python312\python.exe -NoSmoke
#>
[CmdletBinding()]
param(
    # Python 3.11 or newer that makes the build venv (default: $env:PYTHON, else python).
    [string]$Python = $(if ($env:PYTHON) { $env:PYTHON } else { 'python' }),
    # Inno Setup's compiler (default: on PATH, else the usual install folders).
    [string]$Iscc = '',
    # Build llama-cpp-python==this version (default: pyproject.toml's requirement, newest match).
    [string]$LlamaVersion = '',
    # Skip the smoke test.
    [switch]$NoSmoke
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Invoke-Checked {
    # Invoke-Checked PROGRAM ARG...: run it; stop when it exits non-zero, which
    # $ErrorActionPreference does not notice. A simple function (no param block), so that
    # arguments such as -m or -w reach the program instead of being taken as parameters.
    $program = $args[0]
    $rest = @($args | Select-Object -Skip 1)
    & $program @rest
    if ($LASTEXITCODE -ne 0) { throw "$program $($rest -join ' ') failed (exit code $LASTEXITCODE)" }
}

$Root = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path
Set-Location $Root

# The same fixed CPU baseline as scripts/package (copied from it: keep the two identical).
# llama.cpp's default, GGML_NATIVE=ON, would target the build machine's CPU only.
$PortableCmakeArgs = '-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON ' +
    '-DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF'

& $Python -c 'import sys; sys.exit(sys.version_info < (3, 11))'
if ($LASTEXITCODE -ne 0) { throw "Hearth needs Python 3.11 or newer (pass -Python C:\path\to\python.exe)" }
$version = (& $Python -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])").Trim()
if ($LASTEXITCODE -ne 0 -or -not $version) { throw 'Could not read the version from pyproject.toml' }
if ($LlamaVersion) {
    $llamaRequirement = "llama-cpp-python==$LlamaVersion"
} else {
    $llamaRequirement = (& $Python -c "import tomllib; print(next(r for r in tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'] if r.startswith('llama-cpp-python')))").Trim()
    if ($LASTEXITCODE -ne 0) { throw 'Could not read the llama-cpp-python requirement from pyproject.toml' }
}
Write-Host "Hearth $version, $llamaRequirement"

# 1. The portable wheel, in a machine-wide cache keyed by the requirement and the flags (pip's
# own wheel cache keys a build by its source, not by CMAKE_ARGS, and would hand back a native one).
$sha = [System.Security.Cryptography.SHA256]::Create()
$flagsId = (-join ($sha.ComputeHash([Text.Encoding]::UTF8.GetBytes("$llamaRequirement $PortableCmakeArgs")) |
    ForEach-Object { $_.ToString('x2') })).Substring(0, 12)
$cacheRoot = if ($env:HEARTH_WHEEL_CACHE) { $env:HEARTH_WHEEL_CACHE } else { Join-Path $env:LOCALAPPDATA 'hearth\Cache\wheels' }
$wheelDir = Join-Path $cacheRoot "llama-cpp-python-portable-$flagsId"
if (-not (Test-Path (Join-Path $wheelDir '*.whl'))) {
    Write-Host 'Building the portable llama-cpp-python (compiles llama.cpp with MSVC: 5-15 min) ...'
    $tmp = "$wheelDir.tmp"
    if (Test-Path $tmp) { Remove-Item -Recurse -Force $tmp }
    New-Item -ItemType Directory -Force -Path $tmp | Out-Null
    $savedCmakeArgs = $env:CMAKE_ARGS
    $env:CMAKE_ARGS = $PortableCmakeArgs
    try {
        Invoke-Checked $Python -m pip --disable-pip-version-check wheel --no-deps --no-cache-dir `
            --no-binary llama-cpp-python -w $tmp $llamaRequirement
    } finally {
        $env:CMAKE_ARGS = $savedCmakeArgs  # $null removes it again
    }
    if (Test-Path $wheelDir) { Remove-Item -Recurse -Force $wheelDir }
    Move-Item $tmp $wheelDir
}
$wheel = (Get-ChildItem (Join-Path $wheelDir '*.whl') | Select-Object -First 1).FullName

# 2. The build venv: Hearth (not editable) on the portable wheel, plus PyInstaller.
$venv = Join-Path $Root 'build\package-venv'
$venvPython = Join-Path $venv 'Scripts\python.exe'
$stamp = Join-Path $venv '.hearth-package'
$want = "$((Get-FileHash -Algorithm SHA256 pyproject.toml).Hash) $(Split-Path $wheelDir -Leaf)"
if (-not (Test-Path $stamp) -or "$(Get-Content -Raw $stamp)".Trim() -ne $want) {
    Write-Host "Preparing the build environment in $venv ..."
    if (Test-Path $venv) { Remove-Item -Recurse -Force $venv }
    Invoke-Checked $Python -m venv $venv
    Invoke-Checked $venvPython -m pip --disable-pip-version-check --quiet install --upgrade pip
    Invoke-Checked $venvPython -m pip --disable-pip-version-check --quiet install $wheel
    Invoke-Checked $venvPython -m pip --disable-pip-version-check --quiet install '.[package]'
    Set-Content -Path $stamp -Value $want -Encoding ascii
}
Invoke-Checked $venvPython packaging\check_portable.py

# 3. The bundle. The spec reads PORTABLE_CMAKE_ARGS for build-info.json (the CPU baseline).
Write-Host 'Building the bundle (dist\hearth) ...'
if (Test-Path dist\hearth) { Remove-Item -Recurse -Force dist\hearth }
$savedPortable = $env:PORTABLE_CMAKE_ARGS
$env:PORTABLE_CMAKE_ARGS = $PortableCmakeArgs
try {
    Invoke-Checked $venvPython -m PyInstaller --noconfirm --log-level WARN --distpath dist `
        --workpath build\pyinstaller pyinstaller.spec
} finally {
    $env:PORTABLE_CMAKE_ARGS = $savedPortable
}
$bundle = Join-Path $Root 'dist\hearth'
$exe = Join-Path $bundle 'hearth.exe'
if (-not (Test-Path $exe)) { throw "PyInstaller made no $exe" }

# 4. The installer.
if (-not $Iscc) {
    $found = Get-Command ISCC.exe -ErrorAction SilentlyContinue
    $candidates = @()
    if ($found) { $candidates += $found.Source }
    $candidates += @("${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe", "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
                     "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe")
    $Iscc = $candidates | Where-Object { $_ -and (Test-Path $_) } | Select-Object -First 1
    if (-not $Iscc) { throw 'Inno Setup 6 (ISCC.exe) not found: install it, or pass -Iscc C:\path\to\ISCC.exe' }
}
$versionNumbers = [regex]::Match($version, '^\d+(\.\d+){0,3}').Value
Invoke-Checked $Iscc /Q "/DAppVersion=$version" "/DVersionNumbers=$versionNumbers" "/DBundleDir=$bundle" `
    "/O$(Join-Path $Root 'dist')" (Join-Path $PSScriptRoot 'hearth.iss')
$installer = Join-Path $Root "dist\hearth-$version-windows-x86_64-setup.exe"
if (-not (Test-Path $installer)) { throw "Inno Setup made no $installer" }

# 5. The smoke test: the built-in model answers in a fresh, temporary profile; the bundle is
# unchanged afterwards. hearth.exe is a windowed program (no console), so it runs through
# Start-Process with its output redirected to files.
if (-not $NoSmoke) {
    $starterName = 'SmolLM2-135M-Instruct.Q4_1.gguf'
    $starterSha = 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53'
    $model = Join-Path $bundle "_internal\models\$starterName"
    if (-not (Test-Path $model)) { throw "The built-in model is not at $model" }
    $manifest = { Get-ChildItem -Recurse -Force $bundle |
                  ForEach-Object { "$($_.FullName) $(if ($_.PSIsContainer) { 'dir' } else { $_.Length }) $($_.LastWriteTimeUtc.Ticks)" } }
    $before = & $manifest
    $work = Join-Path ([IO.Path]::GetTempPath()) ("hearth-smoke-" + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work | Out-Null
    $saved = @{ cache = $env:HEARTH_DOWNLOAD_CACHE; utf8 = $env:PYTHONUTF8 }
    $env:HEARTH_DOWNLOAD_CACHE = Join-Path $work 'downloads'  # nothing from this machine's cache
    # The JSON is printed with ensure_ascii=False; a redirected stdout is in the ANSI code page
    # (cp1252) unless Python's UTF-8 mode is on, which PyInstaller's bootloader reads from here.
    $env:PYTHONUTF8 = '1'
    try {
        $process = Start-Process -FilePath $exe -NoNewWindow -PassThru `
            -ArgumentList @('--data-dir', "`"$work\profile`"", '--self-test') `
            -RedirectStandardOutput "$work\self-test.json" -RedirectStandardError "$work\self-test.err"
        $null = $process.Handle  # keeps the handle, so ExitCode is known after the exit
        if (-not $process.WaitForExit(600000)) {
            $process.Kill()
            throw 'hearth.exe --self-test did not finish within 10 minutes'
        }
        if ($process.ExitCode -ne 0) {
            Get-Content -Encoding UTF8 "$work\self-test.err" | Write-Host
            throw "hearth.exe --self-test failed (exit code $($process.ExitCode))"
        }
        $line = Get-Content -Encoding UTF8 "$work\self-test.json" | Where-Object { $_.Trim() } | Select-Object -Last 1
        if (-not $line) { throw 'hearth.exe --self-test printed nothing (see README.md: windowed stdout)' }
        $result = $line | ConvertFrom-Json
        if ((Split-Path $result.model -Leaf) -ne $starterName -or $result.model -notlike '*\_internal\models\*') {
            throw "The self-test answered with $($result.model), not the built-in model"
        }
        if (-not "$($result.reply)".Trim() -or $result.tokens -le 0) { throw "The self-test's answer is empty: $line" }
        $reply = "$($result.reply)"
        Write-Host ("smoke: self-test answered ({0} tokens, {1:N1} tok/s): {2}" -f $result.tokens,
            [double]$result.tokens_per_second, $reply.Substring(0, [Math]::Min(70, $reply.Length)))
        if ((Get-FileHash -Algorithm SHA256 $model).Hash -ne $starterSha) { throw 'The built-in model changed' }
        $changed = Compare-Object $before (& $manifest)
        if ($changed) { $changed | Out-String | Write-Host; throw 'The app wrote inside its bundle' }
        Write-Host 'smoke: the built-in model is unchanged and nothing inside the bundle changed'
    } finally {
        $env:HEARTH_DOWNLOAD_CACHE = $saved.cache
        $env:PYTHONUTF8 = $saved.utf8
        Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
    }
}
Write-Host "Built $installer"
