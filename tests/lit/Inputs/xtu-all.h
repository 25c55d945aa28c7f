/* The other files of xtu-mirror-all.c. */
extern int all_total;
int all_add(int v);
int all_total_now(void);
int all_shell(const char *cmd);
int all_plain(int v);
