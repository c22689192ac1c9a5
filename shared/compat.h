/*
 * compat.h -- included after the system headers in every .c file.
 *
 * Poisons the C library calls that have no length or no error report
 * (curl's banned list), so they cannot creep back in.
 */
#ifndef CASCADE_COMPAT_H
#define CASCADE_COMPAT_H

#pragma GCC poison sprintf strcpy strcat atoi strtok gets vsprintf

#endif
