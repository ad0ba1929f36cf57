using Orleans.Runtime;
using Orleans.Storage;

namespace Platform.Grains.Work;

/// <summary>Where a <see cref="RowArchive{TRow}"/> stands, kept in its owner's small grain state: how many rows it holds.</summary>
[GenerateSerializer]
public sealed class RowArchiveHead
{
    [Id(0)] public int Count { get; set; }
}

/// <summary>
/// Rows that no longer change (the training scheduler's finished runs), kept out of their owner's grain state for good, as
/// <see cref="PagedRows{TRow}"/> keeps rows that still change: appended to pages of <c>pageSize</c> rows, each a storage row of its
/// own beside the owner's state, and each row stored once more under its key, so that one is found without reading the pages. The
/// owner's state holds only the <see cref="RowArchiveHead"/>; memory holds only the last page. Reading the newest rows reads pages
/// from the end, as many as asked for.
/// <para>
/// Order of writes: the keyed rows and the pages first, the owner's state (the head) after. A crash between them leaves rows past the
/// stored count in the last page; they are not read, and the owner, which still holds those rows, appends them again over them. A
/// storage that lost a page's write but kept the head's leaves the page with fewer rows than the count: reading takes the rows there,
/// and the next append writes after them.
/// </para>
/// </summary>
public sealed class RowArchive<TRow>(IGrainStorage storage, GrainId owner, string name, RowArchiveHead head, int pageSize, Func<TRow, string> key)
    where TRow : class
{
    /// <summary>Keyed rows written at once by a large append (a migration): enough to keep the storage busy, not so many as to swamp it.</summary>
    private const int ParallelWrites = 64;

    private (int Page, GrainState<RowPage<TRow>> State)? last;

    public int Count => head.Count;

    private string PageName(int page) => $"{name}-p{page}";

    private string KeyedName(string rowKey) => $"{name}-k-{rowKey}";

    /// <summary>Stores the rows, in this order after those already there, and sets the head's count. The owner writes its state after.</summary>
    public async Task AppendAsync(IReadOnlyList<TRow> rows)
    {
        if (rows.Count == 0) return;
        foreach (var batch in rows.Chunk(ParallelWrites)) await Task.WhenAll(batch.Select(WriteKeyedAsync));
        var count = head.Count;
        var appended = 0;
        while (appended < rows.Count)
        {
            var page = count / pageSize;
            var stored = await PageAsync(page);
            var kept = count - page * pageSize;
            if (stored.State!.Rows.Count < kept)
            {
                // Fewer rows than the count says: the storage lost the page's write and kept the head's. The rows go after those there.
                kept = stored.State.Rows.Count;
                count = page * pageSize + kept;
            }
            // Rows past the stored count are what a crash left before its head was stored: written over.
            stored.State.Rows.RemoveRange(kept, stored.State.Rows.Count - kept);
            var take = Math.Min(pageSize - kept, rows.Count - appended);
            stored.State!.Rows.AddRange(rows.Skip(appended).Take(take));
            try
            {
                await storage.WriteStateAsync(PageName(page), owner, stored);
            }
            catch
            {
                // Whether the write reached storage is unknown, and with it the page's ETag: read again next time.
                last = null;
                throw;
            }
            last = (page, stored);
            count += take;
            appended += take;
        }
        head.Count = count;
    }

    /// <summary>The row stored under <paramref name="rowKey"/>, or null.</summary>
    public async Task<TRow?> FindAsync(string rowKey) => (await RowPage<TRow>.ReadAsync(storage, KeyedName(rowKey), owner)).State!.Rows.FirstOrDefault();

    /// <summary>Up to <paramref name="take"/> of the rows appended last, newest first.</summary>
    public async Task<IReadOnlyList<TRow>> NewestAsync(int take)
    {
        var newest = new List<TRow>();
        for (var page = (head.Count - 1) / pageSize; page >= 0 && newest.Count < take && head.Count > 0; page--)
        {
            var rows = (await PageAsync(page)).State!.Rows;
            var stored = Math.Min(rows.Count, head.Count - page * pageSize);
            for (var row = stored - 1; row >= 0 && newest.Count < take; row--) newest.Add(rows[row]);
        }
        return newest;
    }

    private async Task<GrainState<RowPage<TRow>>> PageAsync(int page)
    {
        if (last is { } known && known.Page == page) return known.State;
        var stored = await RowPage<TRow>.ReadAsync(storage, PageName(page), owner);
        // Only the last page is kept: it is the one appends write.
        if (page >= (head.Count - 1) / pageSize) last = (page, stored);
        return stored;
    }

    /// <summary>
    /// A new key's row does not exist, so it is written without reading first; one that does (written before a crash, the head never
    /// stored) is read for its ETag and written over.
    /// </summary>
    private async Task WriteKeyedAsync(TRow row)
    {
        var keyed = new GrainState<RowPage<TRow>>(new RowPage<TRow> { Rows = [row] });
        try
        {
            await storage.WriteStateAsync(KeyedName(key(row)), owner, keyed);
        }
        catch (InconsistentStateException)
        {
            await storage.ReadStateAsync(KeyedName(key(row)), owner, keyed);
            keyed.State = new RowPage<TRow> { Rows = [row] };
            await storage.WriteStateAsync(KeyedName(key(row)), owner, keyed);
        }
    }
}
