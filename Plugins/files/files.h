/* files: shared by the BPF program (map layouts) and the plugin (report rows). */
#ifndef FILES_H
#define FILES_H

#define FILES_MAX_ENTRIES 10240
#define FILES_NAME_LEN 256 /* a dentry name is at most 255 bytes */

/* One file as seen by one thread, as libbpf-tools filetop keys its entries. */
struct file_id {
    __u64 inode;
    __u32 dev;  /* s_dev of the file's super block */
    __u32 rdev; /* device number of a device file */
    __u32 pid;
    __u32 tid;
};

/* Value of the stats map and the report row (record id 0 in schema.json). */
struct file_stat {
    __u64 reads;
    __u64 writes;
    __u64 rbytes;
    __u64 wbytes;
    __u64 inode;
    __u32 dev;
    __u32 rdev;
    __u32 pid;
    __u32 tid;
    char comm[16];
    char type[4]; /* "R" regular, "S" socket, "O" other, as filetop's T column */
    char name[FILES_NAME_LEN];
};

#endif
