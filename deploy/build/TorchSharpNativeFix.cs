// Compiled twice: by MSBuild's RoslynCodeTaskFactory (deploy/build/TorchSharpNativeFix.targets, against
// netstandard 2.0, so only APIs that exist there are used) and into tests/Model.Tests, which tests
// the ELF reader and the task on copies of the real library.
#nullable enable
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Platform.Build
{
    /// <summary>Where one version requirement (a Vernaux entry of .gnu.version_r) lives in an ELF file.</summary>
    public sealed class VersionNeed
    {
        public VersionNeed(string file, string version, long flagsOffset, ushort flags)
        {
            File = file;
            Version = version;
            FlagsOffset = flagsOffset;
            Flags = flags;
        }

        /// <summary>The needed library (vn_file), e.g. libstdc++.so.6.</summary>
        public string File { get; }

        /// <summary>The version name (vna_name), e.g. GLIBCXX_3.4.32.</summary>
        public string Version { get; }

        /// <summary>File offset of the 16-bit vna_flags field.</summary>
        public long FlagsOffset { get; }

        public ushort Flags { get; }

        public bool IsWeak => (Flags & ElfVersions.VerFlagWeak) != 0;
    }

    /// <summary>
    /// Reads the GNU symbol-versioning sections of a 64-bit little-endian ELF file by walking its
    /// section headers: .gnu.version_r (what a library needs) and .gnu.version_d (what it defines).
    /// Sections are found by type and their string tables by sh_link, never by fixed offsets, so the
    /// reader follows whatever layout the linker chose.
    /// </summary>
    public static class ElfVersions
    {
        public const ushort VerFlagWeak = 0x2;
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;

        public static ushort Machine(byte[] elf)
        {
            CheckHeader(elf);
            return U16(elf, 0x12);
        }

        /// <summary>Every version requirement in .gnu.version_r (empty when the section is absent).</summary>
        public static IReadOnlyList<VersionNeed> ReadVersionNeeds(byte[] elf)
        {
            var needs = new List<VersionNeed>();
            var section = FindSection(elf, ShtGnuVerneed);
            if (section == null) return needs;
            var (offset, size, strtab, count) = section.Value;
            long verneed = offset;
            for (uint i = 0; i < count; i++)
            {
                Require(elf, verneed, 16, offset + size, "Verneed entry");
                ushort auxCount = U16(elf, verneed + 2);
                string file = ReadString(elf, strtab, U32(elf, verneed + 4));
                long vernaux = verneed + U32(elf, verneed + 8);
                for (int j = 0; j < auxCount; j++)
                {
                    Require(elf, vernaux, 16, offset + size, "Vernaux entry");
                    ushort flags = U16(elf, vernaux + 4);
                    string version = ReadString(elf, strtab, U32(elf, vernaux + 8));
                    needs.Add(new VersionNeed(file, version, vernaux + 4, flags));
                    uint nextAux = U32(elf, vernaux + 12);
                    if (nextAux == 0) break;
                    vernaux += nextAux;
                }
                uint next = U32(elf, verneed + 12);
                if (next == 0) break;
                verneed += next;
            }
            return needs;
        }

        /// <summary>The names of the versions a library defines (.gnu.version_d), e.g. GLIBCXX_3.4.30.</summary>
        public static IReadOnlyList<string> ReadVersionDefinitions(byte[] elf)
        {
            var names = new List<string>();
            var section = FindSection(elf, ShtGnuVerdef);
            if (section == null) return names;
            var (offset, size, strtab, count) = section.Value;
            long verdef = offset;
            for (uint i = 0; i < count; i++)
            {
                Require(elf, verdef, 20, offset + size, "Verdef entry");
                long verdaux = verdef + U32(elf, verdef + 12);
                Require(elf, verdaux, 8, offset + size, "Verdaux entry");
                names.Add(ReadString(elf, strtab, U32(elf, verdaux)));
                uint next = U32(elf, verdef + 16);
                if (next == 0) break;
                verdef += next;
            }
            return names;
        }

        private static (long Offset, long Size, (long Offset, long Size) Strtab, uint Count)? FindSection(byte[] elf, uint type)
        {
            CheckHeader(elf);
            long shoff = (long)U64(elf, 0x28);
            ushort shentsize = U16(elf, 0x3A);
            ushort shnum = U16(elf, 0x3C);
            if (shoff == 0 || shnum == 0)
                throw new InvalidDataException("ELF file has no section header table (or uses extended section numbering).");
            if (shentsize < 64) throw new InvalidDataException($"ELF section header size {shentsize} is smaller than 64.");
            Require(elf, shoff, (long)shentsize * shnum, elf.LongLength, "section header table");
            for (int i = 0; i < shnum; i++)
            {
                long header = shoff + (long)i * shentsize;
                if (U32(elf, header + 4) != type) continue;
                long offset = (long)U64(elf, header + 24);
                long size = (long)U64(elf, header + 32);
                uint link = U32(elf, header + 40);
                uint info = U32(elf, header + 44);
                Require(elf, offset, size, elf.LongLength, "versioning section");
                if (link >= shnum) throw new InvalidDataException($"Versioning section links to string table {link}, beyond {shnum} sections.");
                long linked = shoff + (long)link * shentsize;
                long strOffset = (long)U64(elf, linked + 24);
                long strSize = (long)U64(elf, linked + 32);
                Require(elf, strOffset, strSize, elf.LongLength, "string table");
                return (offset, size, (strOffset, strSize), info);
            }
            return null;
        }

        private static void CheckHeader(byte[] elf)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("Not an ELF file.");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("Only 64-bit little-endian ELF files are supported.");
        }

        private static string ReadString(byte[] elf, (long Offset, long Size) strtab, uint index)
        {
            if (index >= strtab.Size) throw new InvalidDataException($"String index {index} lies beyond the string table.");
            long start = strtab.Offset + index;
            long end = start;
            long limit = strtab.Offset + strtab.Size;
            while (end < limit && elf[end] != 0) end++;
            return Encoding.ASCII.GetString(elf, (int)start, (int)(end - start));
        }

        private static void Require(byte[] elf, long offset, long length, long limit, string what)
        {
            if (offset < 0 || length < 0 || offset + length > limit || offset + length > elf.LongLength)
                throw new InvalidDataException($"ELF {what} at offset {offset} (length {length}) lies outside its bounds.");
        }

        private static ushort U16(byte[] b, long o) => (ushort)(b[o] | b[o + 1] << 8);
        private static uint U32(byte[] b, long o) => (uint)(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24);
        private static ulong U64(byte[] b, long o) => U32(b, o) | (ulong)U32(b, o + 4) << 32;
    }

    public enum WeakVersionPatchResult
    {
        /// <summary>The flag was set now.</summary>
        Patched,
        /// <summary>The requirement was already weak; the file was left untouched.</summary>
        AlreadyWeak,
        /// <summary>The library does not require that version; nothing to do.</summary>
        NotRequired,
    }

    /// <summary>
    /// libLibTorchSharp.so in TorchSharp 0.107.0 was linked by GCC 13 and so requires GLIBCXX_3.4.32,
    /// which older libstdc++ (Debian 12 ships 3.4.30) does not define; the loader then refuses the
    /// library and TorchSharp reports a misleading "doesn't contain a reference to libtorch-cpu".
    /// The only symbol of that version is _ZSt21ios_base_library_initv, GCC 13's iostream
    /// initialisation marker, which no relocation uses. Marking the requirement weak
    /// (VER_FLG_WEAK on its Vernaux entry) lets the loader accept the library; nothing else changes.
    /// The fix touches only the copy in a build or publish output, never the package cache, and only
    /// where the system libstdc++ lacks the version.
    /// </summary>
    public sealed class FixTorchSharpNativeLibrary : Microsoft.Build.Utilities.Task
    {
        public const string NoteSuffix = ".weak-glibcxx.txt";

        /// <summary>Copies of libLibTorchSharp.so in build or publish outputs.</summary>
        [Required]
        public ITaskItem[] Libraries { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>The version requirement to mark weak.</summary>
        [Required]
        public string Version { get; set; } = "";

        public string NeededLibrary { get; set; } = "libstdc++.so.6";

        /// <summary>Overrides the search for the system's libstdc++ (tests point it at a chosen file).</summary>
        public string SystemLibraryPath { get; set; } = "";

        public override bool Execute()
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || Libraries.Length == 0) return true;
            foreach (var item in Libraries)
            {
                string library = Path.GetFullPath(item.ItemSpec);
                byte[] elf = File.ReadAllBytes(library);
                var need = ElfVersions.ReadVersionNeeds(elf).FirstOrDefault(n => n.File == NeededLibrary && n.Version == Version);
                if (need == null)
                {
                    Log.LogMessage(MessageImportance.Low, $"{library} does not require {Version}; left as it is.");
                    continue;
                }
                string? system = SystemLibraryPath.Length > 0 ? SystemLibraryPath : FindSystemLibrary(ElfVersions.Machine(elf));
                if (system == null)
                {
                    Log.LogMessage(MessageImportance.High, $"No system {NeededLibrary} found for {library}; TorchSharp will not load here until one is installed.");
                    continue;
                }
                if (ElfVersions.ReadVersionDefinitions(File.ReadAllBytes(system)).Contains(Version))
                {
                    Log.LogMessage(MessageImportance.Low, $"{system} defines {Version}; {library} needs no change.");
                    continue;
                }
                var result = MarkWeak(library, elf, need);
                string note = library + NoteSuffix;
                if (result == WeakVersionPatchResult.Patched || !File.Exists(note))
                    File.WriteAllText(note, Note(library, need, system));
                Log.LogMessage(MessageImportance.Normal, $"{library}: {Version} requirement {(result == WeakVersionPatchResult.Patched ? "marked weak" : "already weak")} ({system} lacks it).");
            }
            return !Log.HasLoggedErrors;
        }

        /// <summary>
        /// Sets VER_FLG_WEAK on the requirement. The output file may share its inode with the package
        /// cache (hard-linked copies), so the patch goes to a new file that then replaces the old
        /// directory entry by rename; the original bytes elsewhere stay as they were.
        /// </summary>
        public static WeakVersionPatchResult MarkWeak(string library, byte[] elf, VersionNeed need)
        {
            if (need.IsWeak) return WeakVersionPatchResult.AlreadyWeak;
            ushort flags = (ushort)(need.Flags | ElfVersions.VerFlagWeak);
            string temporary = library + ".patching";
            File.Copy(library, temporary, overwrite: true); // keeps the file mode (executable bits)
            using (var stream = new FileStream(temporary, FileMode.Open, FileAccess.Write))
            {
                stream.Position = need.FlagsOffset;
                stream.WriteByte((byte)(flags & 0xff));
                stream.WriteByte((byte)(flags >> 8));
            }
            File.Replace(temporary, library, null);
            return WeakVersionPatchResult.Patched;
        }

        private string? FindSystemLibrary(ushort machine)
        {
            foreach (var candidate in SystemLibraryCandidates())
            {
                try
                {
                    if (File.Exists(candidate) && ElfVersions.Machine(File.ReadAllBytes(candidate)) == machine) return candidate;
                }
                catch (InvalidDataException)
                {
                    // A linker script or a library for another word size: not the one the loader uses.
                }
            }
            return null;
        }

        private IEnumerable<string> SystemLibraryCandidates()
        {
            foreach (var ldconfig in new[] { "/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig" })
            {
                string? listing = null;
                try
                {
                    var start = new ProcessStartInfo(ldconfig, "-p") { RedirectStandardOutput = true, UseShellExecute = false };
                    using var process = Process.Start(start);
                    if (process == null) continue;
                    listing = process.StandardOutput.ReadToEnd();
                    process.WaitForExit();
                }
                catch (System.ComponentModel.Win32Exception)
                {
                    continue; // not installed at this path
                }
                // Lines look like: "\tlibstdc++.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libstdc++.so.6"
                foreach (var line in listing.Split('\n'))
                {
                    int arrow = line.IndexOf("=>", StringComparison.Ordinal);
                    if (arrow > 0 && line.TrimStart().StartsWith(NeededLibrary + " ", StringComparison.Ordinal))
                        yield return line.Substring(arrow + 2).Trim();
                }
                break;
            }
            foreach (var directory in new[] { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib" })
                yield return Path.Combine(directory, NeededLibrary);
        }

        private string Note(string library, VersionNeed need, string system) =>
$@"{Path.GetFileName(library)} in this folder was changed by the build (deploy/build/TorchSharpNativeFix.targets).

What: the {Version} requirement on {NeededLibrary} in .gnu.version_r was marked weak
(VER_FLG_WEAK set in vna_flags at file offset 0x{need.FlagsOffset:x}); no other byte differs.

Why: this copy of TorchSharp's native library was linked by a newer GCC and requires {Version},
which the system's {system} does not define, so the dynamic loader refused to load it.
The only symbol of that version it references is _ZSt21ios_base_library_initv (GCC 13's iostream
initialisation marker), and no relocation uses it, so a weak requirement is safe.

Only this build output was changed; the NuGet package cache keeps the original.
The fix is skipped where the system libstdc++ defines {Version}.
";
    }
}
