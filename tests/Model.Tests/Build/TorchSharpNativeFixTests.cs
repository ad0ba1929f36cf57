using System.Collections;
using CsCheck;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using Platform.Build;

namespace Platform.Model.Tests.Build;

/// <summary>The ELF reader and the build task that marks TorchSharp's GLIBCXX_3.4.32 requirement weak.</summary>
public sealed class TorchSharpNativeFixTests : IDisposable
{
    private const string Version = "GLIBCXX_3.4.32";
    private readonly string _folder = Directory.CreateTempSubdirectory("native-fix-").FullName;

    private static string OutputLibrary =>
        Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>A copy of the real library with the requirement as the package ships it (not weak).</summary>
    private string UnpatchedCopy()
    {
        string copy = Path.Combine(_folder, "libLibTorchSharp.so");
        byte[] bytes = File.ReadAllBytes(OutputLibrary);
        var need = FindNeed(bytes);
        ushort flags = (ushort)(need.Flags & ~ElfVersions.VerFlagWeak);
        bytes[need.FlagsOffset] = (byte)flags;
        bytes[need.FlagsOffset + 1] = (byte)(flags >> 8);
        File.WriteAllBytes(copy, bytes);
        return copy;
    }

    private static VersionNeed FindNeed(byte[] elf) =>
        Assert.Single(ElfVersions.ReadVersionNeeds(elf), n => n.File == "libstdc++.so.6" && n.Version == Version);

    private static string LoadedLibrary(string name) =>
        File.ReadAllLines("/proc/self/maps").Select(l => l[(l.IndexOf('/') is var i and >= 0 ? i : l.Length)..])
            .First(path => Path.GetFileName(path).StartsWith(name, StringComparison.Ordinal));

    [Fact]
    public void ReadsTheVersionRequirementsOfTheRealLibrary()
    {
        var needs = ElfVersions.ReadVersionNeeds(File.ReadAllBytes(OutputLibrary));
        Assert.Contains(needs, n => n.File == "libstdc++.so.6" && n.Version == "GLIBCXX_3.4");
        Assert.Contains(needs, n => n.File == "libc.so.6" && n.Version.StartsWith("GLIBC_2.", StringComparison.Ordinal));
        Assert.Single(needs, n => n.Version == Version);
    }

    [Fact]
    public void ReadsTheVersionDefinitionsOfTheLoadedLibstdcxx()
    {
        var defined = ElfVersions.ReadVersionDefinitions(File.ReadAllBytes(LoadedLibrary("libstdc++.so.6")));
        Assert.Contains("GLIBCXX_3.4", defined);
        Assert.Contains("CXXABI_1.3", defined);
    }

    [Fact]
    public void MarkingWeakChangesOnlyTheFlagAndIsIdempotent()
    {
        string library = UnpatchedCopy();
        byte[] before = File.ReadAllBytes(library);
        var need = FindNeed(before);
        Assert.False(need.IsWeak);

        Assert.Equal(WeakVersionPatchResult.Patched, FixTorchSharpNativeLibrary.MarkWeak(library, before, need));

        byte[] after = File.ReadAllBytes(library);
        Assert.Equal(before.Length, after.Length);
        var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToArray();
        Assert.Equal([(int)need.FlagsOffset], changed);
        var patched = FindNeed(after);
        Assert.True(patched.IsWeak);
        Assert.Equal(need.Flags | ElfVersions.VerFlagWeak, patched.Flags);

        Assert.Equal(WeakVersionPatchResult.AlreadyWeak, FixTorchSharpNativeLibrary.MarkWeak(library, after, patched));
        Assert.Equal(after, File.ReadAllBytes(library));
    }

    [Fact]
    public void PatchingLeavesAHardLinkedOriginalUntouched()
    {
        string library = UnpatchedCopy();
        string cacheCopy = Path.Combine(_folder, "package-cache-copy.so");
        Assert.Equal(0, Link(library, cacheCopy));
        byte[] original = File.ReadAllBytes(cacheCopy);

        FixTorchSharpNativeLibrary.MarkWeak(library, original, FindNeed(original));

        Assert.Equal(original, File.ReadAllBytes(cacheCopy));
        Assert.True(FindNeed(File.ReadAllBytes(library)).IsWeak);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string existing, string created);

    [Fact]
    public void TaskPatchesAndWritesANoteWhereTheSystemLacksTheVersion()
    {
        string library = UnpatchedCopy();
        // libc defines no GLIBCXX versions: it stands for a libstdc++ older than the one required.
        var (task, engine) = NewTask(library, LoadedLibrary("libc.so.6"), Version);

        Assert.True(task.Execute(), string.Join("\n", engine.Errors));
        Assert.True(FindNeed(File.ReadAllBytes(library)).IsWeak);
        string note = File.ReadAllText(library + FixTorchSharpNativeLibrary.NoteSuffix);
        Assert.Contains(Version, note);
        Assert.Contains("VER_FLG_WEAK", note);

        byte[] once = File.ReadAllBytes(library);
        var (again, _) = NewTask(library, LoadedLibrary("libc.so.6"), Version);
        Assert.True(again.Execute());
        Assert.Equal(once, File.ReadAllBytes(library));
    }

    [Fact]
    public void TaskLeavesTheLibraryAloneWhereTheSystemDefinesTheVersion()
    {
        string library = UnpatchedCopy();
        byte[] before = File.ReadAllBytes(library);
        // Every libstdc++ defines GLIBCXX_3.4, which the library also requires.
        var (task, _) = NewTask(library, LoadedLibrary("libstdc++.so.6"), "GLIBCXX_3.4");

        Assert.True(task.Execute());
        Assert.Equal(before, File.ReadAllBytes(library));
        Assert.False(File.Exists(library + FixTorchSharpNativeLibrary.NoteSuffix));
    }

    [Fact]
    public void CorruptOrTruncatedFilesGiveAClearError()
    {
        byte[] real = File.ReadAllBytes(OutputLibrary);
        long sectionTable = BitConverter.ToInt64(real, 0x28);
        Gen.Select(Gen.Int[0, real.Length - 1], Gen.Int[0, 63], Gen.Byte).Sample((cut, headerByte, value) =>
        {
            byte[] truncated = real[..cut];
            byte[] corrupt = (byte[])real.Clone();
            corrupt[sectionTable + headerByte] = value; // somewhere in the first section headers
            foreach (var bytes in new[] { truncated, corrupt })
            {
                try
                {
                    ElfVersions.ReadVersionNeeds(bytes);
                    ElfVersions.ReadVersionDefinitions(bytes);
                }
                catch (InvalidDataException)
                {
                    // the expected, explained failure
                }
            }
        }, iter: 200);
    }

    private static (FixTorchSharpNativeLibrary Task, RecordingBuildEngine Engine) NewTask(string library, string systemLibrary, string version)
    {
        var engine = new RecordingBuildEngine();
        var task = new FixTorchSharpNativeLibrary
        {
            BuildEngine = engine,
            Libraries = [new TaskItem(library)],
            Version = version,
            SystemLibraryPath = systemLibrary,
        };
        return (task, engine);
    }

    /// <summary>Collects what a task logs, in place of a running MSBuild.</summary>
    private sealed class RecordingBuildEngine : IBuildEngine
    {
        public List<string> Errors { get; } = [];
        public bool ContinueOnError => false;
        public int LineNumberOfTaskNode => 0;
        public int ColumnNumberOfTaskNode => 0;
        public string ProjectFileOfTaskNode => "test";
        public void LogErrorEvent(BuildErrorEventArgs e) => Errors.Add(e.Message ?? "");
        public void LogWarningEvent(BuildWarningEventArgs e) => Errors.Add(e.Message ?? "");
        public void LogMessageEvent(BuildMessageEventArgs e) { }
        public void LogCustomEvent(CustomBuildEventArgs e) { }
        public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs) => false;
    }
}
